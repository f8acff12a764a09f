-- Do the reports agree to the cent? One row; `reconciles` is true when the work queue holds
-- the line report's flagged dollars and the finance summary its billed, allowed and paid.
-- Reads: lines, work_queue, finance_summary (of the same batches).
WITH line_report AS (
    SELECT
        coalesce(sum(dollars_at_risk) FILTER (WHERE flag_count > 0), 0) AS flagged_dollars,
        coalesce(sum(billed), 0) AS billed,
        coalesce(sum(expected_allowed), 0) AS expected_allowed,
        coalesce(sum(paid), 0) AS paid
    FROM lines
),
queue AS (
    SELECT coalesce(sum(dollars_at_risk), 0) AS dollars_at_risk FROM work_queue
),
finance AS (
    SELECT
        coalesce(sum(billed), 0) AS billed,
        coalesce(sum(expected_allowed), 0) AS expected_allowed,
        coalesce(sum(paid), 0) AS paid
    FROM finance_summary
)
SELECT
    line_report.flagged_dollars AS line_report_flagged_dollars,
    queue.dollars_at_risk AS work_queue_dollars_at_risk,
    line_report.billed AS line_report_billed,
    finance.billed AS finance_billed,
    line_report.expected_allowed AS line_report_expected_allowed,
    finance.expected_allowed AS finance_expected_allowed,
    line_report.paid AS line_report_paid,
    finance.paid AS finance_paid,
    line_report.flagged_dollars = queue.dollars_at_risk
        AND line_report.billed = finance.billed
        AND line_report.expected_allowed = finance.expected_allowed
        AND line_report.paid = finance.paid AS reconciles
FROM line_report, queue, finance;
