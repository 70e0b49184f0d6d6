-- What a weights-only bernoulli run needs from the input: rows and red
-- marbles per bag. The outer query consumes the whole grouped result.
SELECT count(*) AS bags, sum(n) AS rows, sum(red) AS red
FROM (
  SELECT bag_id, count(*) AS n, sum(red::int) AS red
  FROM read_parquet('@IN@/part-*.parquet')
  GROUP BY bag_id
)
