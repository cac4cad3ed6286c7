"""Command-line interface (click). Logic lives in the library; these only parse and print."""
