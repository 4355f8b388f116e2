"""The simple repository API as data, and where downloads come from."""
