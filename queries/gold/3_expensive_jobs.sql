-- Serverless jobs by DBUs over the last 30 days.
SELECT job_id, job_name, SUM(usage_quantity) AS total_dbu
FROM cost_by_workload
WHERE job_id IS NOT NULL
  AND usage_unit = 'DBU'
  AND usage_date >= DATEADD(day, -30, :today)
  AND sku_name LIKE '%JOBS_SERVERLESS_COMPUTE%'
GROUP BY job_id, job_name
ORDER BY total_dbu DESC
