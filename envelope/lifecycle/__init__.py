"""Storage lifecycle: retention policies (retention.py) and the collector of
blobs no file refers to any more (collector.py). docs/lifecycle.md."""
