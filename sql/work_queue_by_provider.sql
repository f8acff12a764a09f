-- Work-queue claims, lines and dollars by rendering (else billing) provider NPI.
-- Reads: work_queue (work_queue.parquet).
SELECT
    provider_npi,
    count(DISTINCT claim_id) AS claims,
    count(*) AS lines,
    sum(dollars_at_risk) AS dollars_at_risk,
    sum(dollars_recovered) AS dollars_recovered
FROM work_queue
GROUP BY provider_npi
ORDER BY dollars_at_risk DESC, provider_npi;
