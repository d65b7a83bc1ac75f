"""Silver: typed, deduplicated usage for every source, and validated price windows."""
