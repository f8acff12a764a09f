-- Work-queue dollars by each line's primary flag (its largest), so the rows add up to the
-- queue's total; '' is a line queued only for a denial pattern. Reads: work_queue.
SELECT
    primary_flag,
    count(DISTINCT claim_id) AS claims,
    count(*) AS lines,
    sum(dollars_at_risk) AS dollars_at_risk,
    sum(dollars_recovered) AS dollars_recovered
FROM work_queue
GROUP BY primary_flag
ORDER BY dollars_at_risk DESC, primary_flag;
