-- The ten procedure codes with the most underpaid dollars.
-- Reads: finance_summary (finance_summary.parquet).
SELECT
    procedure_code,
    sum(lines) AS lines,
    sum(paid) AS paid,
    sum(variance) AS variance,
    sum(underpaid_lines) AS underpaid_lines,
    sum(underpaid) AS underpaid
FROM finance_summary
GROUP BY procedure_code
HAVING sum(underpaid) > 0
ORDER BY underpaid DESC, procedure_code
LIMIT 10;
