"""Fetching deliveries: files on a local disk or object store (through Spark's Hadoop file system)."""
