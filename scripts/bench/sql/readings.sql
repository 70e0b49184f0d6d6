-- The same pass over the readings: rows and the sum of values per sensor.
SELECT count(*) AS sensors, sum(n) AS rows, sum(s) AS total
FROM (
  SELECT sensor_id, count(*) AS n, sum(value) AS s
  FROM read_parquet('@IN@/part-*.parquet')
  GROUP BY sensor_id
)
