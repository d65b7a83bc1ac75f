-- DBUs of serverless jobs and notebooks sharing a custom tag over the last 30 days.
SELECT job_id, job_name, notebook_id, notebook_path, SUM(usage_quantity) AS total_dbu
FROM cost_by_tag
WHERE tag_key = :tag_key
  AND tag_value = :tag_value
  AND billing_origin_product IN ('JOBS', 'INTERACTIVE')
  AND is_serverless
  AND usage_unit = 'DBU'
  AND usage_date >= DATEADD(day, -30, :today)
GROUP BY job_id, job_name, notebook_id, notebook_path
ORDER BY total_dbu DESC
