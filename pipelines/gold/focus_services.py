"""FOCUS service, resource and region columns for Databricks and Dremio usage (pure Column helpers).

ServiceCategory and ServiceSubcategory take FOCUS 1.2's allowed values; each ServiceName has exactly
one category, as the specification requires, because the name is derived from the product alone.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column
from pyspark.sql import functions as F

OTHER = ("Other", "Other (Other)")

# billing_origin_product -> (ServiceName, ServiceCategory, ServiceSubcategory)
DATABRICKS_SERVICES: dict[str, tuple[str, str, str]] = {
    "JOBS": ("Lakeflow Jobs", "Analytics", "Data Processing"),
    "DLT": ("Lakeflow Declarative Pipelines", "Analytics", "Data Processing"),
    "LAKEFLOW_CONNECT": ("Lakeflow Connect", "Integration", "Other (Integration)"),
    "SQL": ("Databricks SQL", "Databases", "Data Warehouses"),
    "ALL_PURPOSE": ("All-Purpose Compute", "Analytics", "Analytics Platforms"),
    "INTERACTIVE": ("Serverless Notebooks", "Analytics", "Analytics Platforms"),
    "MODEL_SERVING": ("Mosaic AI Model Serving", "AI and Machine Learning", "AI Platforms"),
    "FOUNDATION_MODEL_TRAINING": ("Foundation Model Fine-tuning", "AI and Machine Learning", "Machine Learning"),
    "AI_GATEWAY": ("AI Gateway", "AI and Machine Learning", "Generative AI"),
    "AI_FUNCTIONS": ("AI Functions", "AI and Machine Learning", "Generative AI"),
    "AGENT_EVALUATION": ("Agent Evaluation", "AI and Machine Learning", "Generative AI"),
    "AGENT_BRICKS": ("Agent Bricks", "AI and Machine Learning", "Generative AI"),
    "VECTOR_SEARCH": ("Vector Search", "AI and Machine Learning", "Other (AI and Machine Learning)"),
    "ONLINE_TABLES": ("Online Tables", "Databases", "Other (Databases)"),
    "DATABASE": ("Lakebase", "Databases", "Relational Databases"),
    "DEFAULT_STORAGE": ("Default Storage", "Storage", "Object Storage"),
    "PREDICTIVE_OPTIMIZATION": ("Predictive Optimization", "Storage", "Storage Platforms"),
    "LAKEHOUSE_MONITORING": ("Data Quality Monitoring", "Management and Governance", "Observability"),
    "DATA_QUALITY_MONITORING": ("Data Quality Monitoring", "Management and Governance", "Observability"),
    "DATA_CLASSIFICATION": ("Data Classification", "Management and Governance", "Data Governance"),
    "FINE_GRAINED_ACCESS_CONTROL": ("Fine-Grained Access Control", "Security", "Other (Security)"),
    "BASE_ENVIRONMENTS": ("Serverless Base Environments", "Compute", "Serverless Compute"),
    "APPS": ("Databricks Apps", "Web", "Application Platforms"),
    "CLEAN_ROOM": ("Clean Rooms", "Analytics", "Other (Analytics)"),
    "DATA_SHARING": ("Delta Sharing", "Analytics", "Other (Analytics)"),
    "NETWORKING": ("Networking", "Networking", "Network Connectivity"),
}
DREMIO_SERVICE = ("Dremio Cloud", "Analytics", "Analytics Platforms")

# What a usage record was billed for, in order: the first id present names the resource.
# (metadata field, ResourceType, path segment, metadata field holding the display name)
RESOURCES: tuple[tuple[str, str, str, str | None], ...] = (
    ("warehouse_id", "SQL Warehouse", "warehouses", None),
    ("endpoint_id", "Serving Endpoint", "serving-endpoints", "endpoint_name"),
    ("dlt_pipeline_id", "Pipeline", "pipelines", None),
    ("job_id", "Job", "jobs", "job_name"),
    ("cluster_id", "Cluster", "clusters", None),
    ("notebook_id", "Notebook", "notebooks", "notebook_path"),
    ("app_id", "App", "apps", "app_name"),
)

# Display names of the regions workspaces run in (RegionName); an unlisted id is shown as itself.
REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "ca-central-1": "Canada (Central)",
    "eu-west-1": "Europe (Ireland)",
    "eu-west-2": "Europe (London)",
    "eu-west-3": "Europe (Paris)",
    "eu-central-1": "Europe (Frankfurt)",
    "eu-north-1": "Europe (Stockholm)",
    "ap-south-1": "Asia Pacific (Mumbai)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-northeast-2": "Asia Pacific (Seoul)",
    "sa-east-1": "South America (Sao Paulo)",
}


def lookup(values: Mapping[str, str], key: Column) -> Column:
    """A value from a small constant or configured mapping, as a literal map (NULL when the key is absent)."""
    if not values:
        return F.lit(None).cast("string")
    pairs = [item for k, v in sorted(values.items()) for item in (F.lit(k), F.lit(v))]
    return F.element_at(F.create_map(*pairs), key)


def service(product: Column, is_dremio: Column) -> tuple[Column, Column, Column]:
    """(ServiceCategory, ServiceSubcategory, ServiceName) of a usage record from its `billing_origin_product`.

    Silver gives legacy rows the product their SKU name bills (pipelines/silver/legacy_usage.py). A product
    this list does not know yet keeps its own name, in category Other.
    """

    def mapped(part: int) -> Column:
        return lookup({key: names[part] for key, names in DATABRICKS_SERVICES.items()}, product)

    def unless_dremio(column: Column, part: int) -> Column:
        return F.when(is_dremio, F.lit(DREMIO_SERVICE[part])).otherwise(column)

    name = F.coalesce(mapped(0), F.concat(F.lit("Databricks "), F.coalesce(product, F.lit("usage"))))
    category = F.coalesce(mapped(1), F.lit(OTHER[0]))
    subcategory = F.coalesce(mapped(2), F.lit(OTHER[1]))
    return unless_dremio(category, 1), unless_dremio(subcategory, 2), unless_dremio(name, 0)


def resource(
    metadata: Column, cluster_name: Column, workspace_id: Column, is_dremio: Column
) -> tuple[Column, Column, Column]:
    """(ResourceId, ResourceName, ResourceType): the first resource id the record carries, workspace-qualified.

    Dremio usage is billed per project or engine. A resource without a display name in the usage data
    (a warehouse, a pipeline) has a NULL ResourceName; a cluster's name comes from legacy deliveries.
    """
    resource_id = F.when(
        is_dremio & metadata["project_id"].isNotNull(), F.concat(F.lit("projects/"), metadata["project_id"])
    )
    resource_id = resource_id.when(
        is_dremio & metadata["engine_id"].isNotNull(), F.concat(F.lit("engines/"), metadata["engine_id"])
    )
    resource_type = F.when(is_dremio & metadata["project_id"].isNotNull(), F.lit("Project"))
    resource_type = resource_type.when(is_dremio & metadata["engine_id"].isNotNull(), F.lit("Engine"))
    resource_name: Column = F.when(F.lit(False), F.lit(None).cast("string"))
    for field, kind, segment, name_field in RESOURCES:
        present = ~is_dremio & metadata[field].isNotNull()
        path = F.concat(F.coalesce(workspace_id, F.lit("account")), F.lit(f"/{segment}/"), metadata[field])
        resource_id = resource_id.when(present, path)
        resource_type = resource_type.when(present, F.lit(kind))
        if field == "cluster_id":
            resource_name = resource_name.when(present, cluster_name)
        elif name_field is not None:
            resource_name = resource_name.when(present, metadata[name_field])
        else:
            resource_name = resource_name.when(present, F.lit(None).cast("string"))
    return resource_id, resource_name, resource_type


def region_name(region_id: Column) -> Column:
    """RegionName for a RegionId: the provider's display name where listed, else the id itself."""
    return F.when(region_id.isNotNull(), F.coalesce(lookup(REGION_NAMES, region_id), region_id))
