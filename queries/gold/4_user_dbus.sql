-- DBUs of the jobs and notebooks one user ran over the last 30 days.
SELECT job_id, job_name, notebook_id, notebook_path, SUM(usage_quantity) AS total_dbu
FROM cost_by_identity
WHERE run_as = format_string('%s@%s.%s', :user_name, :domain_name, :top_level_domain)
  AND usage_unit = 'DBU'
  AND usage_date >= DATEADD(day, -30, :today)
GROUP BY job_id, job_name, notebook_id, notebook_path
ORDER BY total_dbu DESC
