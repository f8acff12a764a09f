-- Finance underpayment summary: one row per payer x procedure code x month of service.
-- Reads: lines (lines.parquet). Gives the same rows as finance_summary.parquet; over several
-- batches it adds them up. Money is exact (DECIMAL); variance is paid - expected payment.
SELECT
    coalesce(payer, '') AS payer,
    coalesce(procedure_code, '') AS procedure_code,
    strftime(date_of_service, '%Y-%m') AS service_month,
    count(*) AS lines,
    sum(billed) AS billed,
    sum(expected_allowed) AS expected_allowed,
    sum(expected_payment) AS expected_payment,
    count(paid) AS paid_lines,
    sum(paid) AS paid,
    sum(paid_variance) AS variance,
    count(*) FILTER (WHERE list_contains(flags, 'UNDERPAID')) AS underpaid_lines,
    coalesce(sum(-paid_variance) FILTER (WHERE list_contains(flags, 'UNDERPAID')), 0)
        AS underpaid,
    count(*) FILTER (WHERE list_contains(flags, 'OVERPAID')) AS overpaid_lines,
    coalesce(sum(paid_variance) FILTER (WHERE list_contains(flags, 'OVERPAID')), 0) AS overpaid
FROM lines
GROUP BY ALL
ORDER BY payer, procedure_code, service_month NULLS LAST;
