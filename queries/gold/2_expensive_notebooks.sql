-- Serverless notebooks by DBUs over the last 30 days.
SELECT notebook_id, notebook_path, SUM(usage_quantity) AS total_dbu
FROM cost_by_workload
WHERE notebook_id IS NOT NULL
  AND billing_origin_product = 'INTERACTIVE'
  AND is_serverless
  AND usage_unit = 'DBU'
  AND usage_date >= DATEADD(day, -30, :today)
GROUP BY notebook_id, notebook_path
ORDER BY total_dbu DESC
