"""The upstream proxy: pages and files from another index, behind an address policy."""
