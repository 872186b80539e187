"""The sans-I/O trading core: events in, actions out. No sockets, clocks or files."""
