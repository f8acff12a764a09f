-- Billed, expected, paid and underpaid dollars by month of service (lines without a valid
-- date are left out). Reads: finance_summary (finance_summary.parquet).
SELECT
    service_month,
    sum(lines) AS lines,
    sum(billed) AS billed,
    sum(expected_allowed) AS expected_allowed,
    sum(expected_payment) AS expected_payment,
    sum(paid) AS paid,
    sum(variance) AS variance,
    sum(underpaid_lines) AS underpaid_lines,
    sum(underpaid) AS underpaid,
    sum(overpaid) AS overpaid
FROM finance_summary
WHERE service_month IS NOT NULL
GROUP BY service_month
ORDER BY service_month;
