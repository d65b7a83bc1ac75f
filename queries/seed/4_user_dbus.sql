SELECT
usage_metadata.job_id,
usage_metadata.job_name,
usage_metadata.notebook_id,
usage_metadata.notebook_path,
SUM(usage_quantity) as total_dbu
FROM
usage
WHERE
identity_metadata.run_as = format_string('%s@%s.%s', :user_name, :domain_name, :top_level_domain)
and usage_date >= DATEADD(day, -30, :today)
GROUP BY
1,2,3,4
ORDER BY
total_dbu DESC
