"""Write a dataset as files for other tools: Parquet, or CSV with exact decimals and ISO 8601 UTC times."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType

EXPORT_FORMATS = ("parquet", "csv")
ISO_UTC = "yyyy-MM-dd'T'HH:mm:ss'Z'"  # sessions run in UTC (pipelines/spark.py)


def write_files(data: DataFrame, folder: str, file_format: str) -> None:
    """Replace `folder` with `data` as one file of `file_format` (Spark's part-file naming).

    CSV has a header; decimals are written as plain text (Spark's CSV writer would print 0 as `0E-18`)
    and timestamps as `2024-03-01T00:00:00Z`.
    """
    if file_format not in EXPORT_FORMATS:
        raise ValueError(f"export format must be one of {', '.join(EXPORT_FORMATS)}, not {file_format}")
    writer = data.coalesce(1)
    if file_format == "csv":
        plain = {
            f.name: F.col(f.name).cast("string") for f in data.schema.fields if isinstance(f.dataType, DecimalType)
        }
        writer = writer.withColumns(plain)
        writer.write.mode("overwrite").option("header", True).option("timestampFormat", ISO_UTC).csv(folder)
    else:
        writer.write.mode("overwrite").parquet(folder)
