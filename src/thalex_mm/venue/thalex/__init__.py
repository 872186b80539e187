"""The Thalex API v2: message Structs (shared with the local exchange), auth and the client."""
