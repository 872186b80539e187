"""The benchmark suite behind `thalex-mm bench`."""
