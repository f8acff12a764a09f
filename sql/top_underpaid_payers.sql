-- The ten payers with the most underpaid dollars.
-- Reads: finance_summary (finance_summary.parquet).
SELECT
    payer,
    sum(lines) AS lines,
    sum(paid) AS paid,
    sum(variance) AS variance,
    sum(underpaid_lines) AS underpaid_lines,
    sum(underpaid) AS underpaid
FROM finance_summary
GROUP BY payer
HAVING sum(underpaid) > 0
ORDER BY underpaid DESC, payer
LIMIT 10;
