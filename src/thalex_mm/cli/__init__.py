"""The `thalex-mm` command line: thin parsers that call into the application."""
