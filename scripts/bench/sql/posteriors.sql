-- Every reading's posteriors given its sensor's weights, which mixbatch
-- estimated (@OUT@/weights): w_k·φ((x − μ_k)/σ_k)/σ_k normalised over the
-- components (1/√(2π) cancels), with the most probable component, written
-- to Parquet like mixbatch's posteriors/.
COPY (
  WITH w AS (
    SELECT sensor_id,
      max(weight) FILTER (WHERE component = 'idle') AS w_idle,
      max(weight) FILTER (WHERE component = 'working') AS w_working,
      max(weight) FILTER (WHERE component = 'faulty') AS w_faulty
    FROM read_parquet('@OUT@/weights/*.parquet')
    GROUP BY sensor_id
  ),
  d AS (
    SELECT r.sensor_id, r.reading_id, r.value,
      w_idle * exp(-0.5 * ((r.value - 20) / 2) ^ 2) / 2 AS d_idle,
      w_working * exp(-0.5 * ((r.value - 35) / 3) ^ 2) / 3 AS d_working,
      w_faulty * exp(-0.5 * ((r.value - 60) / 8) ^ 2) / 8 AS d_faulty
    FROM read_parquet('@IN@/part-*.parquet') r JOIN w USING (sensor_id)
  )
  SELECT sensor_id, reading_id, value,
    d_idle / (d_idle + d_working + d_faulty) AS posterior_idle,
    d_working / (d_idle + d_working + d_faulty) AS posterior_working,
    d_faulty / (d_idle + d_working + d_faulty) AS posterior_faulty,
    CASE WHEN d_idle >= d_working AND d_idle >= d_faulty THEN 'idle'
         WHEN d_working >= d_faulty THEN 'working' ELSE 'faulty' END AS component
  FROM d
) TO '@DUCK_OUT@' (FORMAT parquet)
