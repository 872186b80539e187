"""The live view: the snapshot file's layout, writer and reader, the Prometheus exporter
and the ``thalex-mm watch`` dashboard (docs/monitoring.md)."""
