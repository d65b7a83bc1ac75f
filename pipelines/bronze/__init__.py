"""Bronze: land deliveries exactly as delivered, with lineage, a quarantine and an ingest log."""
