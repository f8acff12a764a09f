-- Work-queue claims, lines and dollars by payer, most dollars at risk first.
-- Reads: work_queue (work_queue.parquet).
SELECT
    payer,
    count(DISTINCT claim_id) AS claims,
    count(*) AS lines,
    sum(dollars_at_risk) AS dollars_at_risk,
    sum(dollars_recovered) AS dollars_recovered
FROM work_queue
GROUP BY payer
ORDER BY dollars_at_risk DESC, payer;
