-- Cost of one identity (user or service principal) in a date range, at effective list prices.
SELECT SUM(effective_cost) AS `Total Dollar Cost`
FROM cost_by_identity
WHERE run_as = :identity
  AND usage_date BETWEEN :start AND :end
