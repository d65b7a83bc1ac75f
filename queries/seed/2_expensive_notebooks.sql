SELECT
usage_metadata.notebook_id,
usage_metadata.notebook_path,
SUM(usage_quantity) as total_dbu
FROM
usage
WHERE
usage_metadata.notebook_id is not null
and billing_origin_product = 'INTERACTIVE'
and product_features.is_serverless
and usage_unit = 'DBU'
and usage_date >= DATEADD(day, -30, :today)
GROUP BY
1,2
ORDER BY
total_dbu DESC
