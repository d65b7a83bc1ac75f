SELECT
usage_metadata.job_id,
usage_metadata.job_name,
usage_metadata.notebook_id,
usage_metadata.notebook_path,
SUM(usage_quantity) as total_dbu
FROM
usage
WHERE
custom_tags[:tag_key] = :tag_value
and billing_origin_product in ('JOBS','INTERACTIVE')
and product_features.is_serverless
and usage_unit = 'DBU'
and usage_date >= DATEADD(day, -30, :today)
GROUP BY
1,2,3,4
ORDER BY
total_dbu DESC
