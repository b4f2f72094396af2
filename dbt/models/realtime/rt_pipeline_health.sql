-- Per minute of the last var rt_pipeline_health_minutes minutes: order snapshots written (each order counts
-- at its latest write: the tables keep current state, not every event), ingest lag, and dead letters.
-- BigQuery pruning: dead letters filter on their partition column (timestamp); orders filter on their
-- partition column too, bounded by var rt_max_order_age_days (an order updated now was bought within it).
with

orders as (

    select * from {{ ref('stg_orders_rt__orders') }}
    where purchased_at >= {{ timestamp_ago(var('rt_max_order_age_days'), 'day') }}
      and ingested_at >= {{ timestamp_ago(var('rt_pipeline_health_minutes'), 'minute') }}

),

dead_letters as (

    select * from {{ ref('stg_orders_rt__dead_letters') }}
    where dead_lettered_at >= {{ timestamp_ago(var('rt_pipeline_health_minutes'), 'minute') }}

),

writes as (

    select
        {{ dbt.date_trunc('minute', 'ingested_at') }} as minute_start,
        count(*) as orders_written,
        avg({{ dbt.datediff('last_event_at', 'ingested_at', 'second') }}) as avg_ingest_lag_seconds,
        max({{ dbt.datediff('last_event_at', 'ingested_at', 'second') }}) as max_ingest_lag_seconds

    from orders
    group by 1

),

failures as (

    select
        {{ dbt.date_trunc('minute', 'dead_lettered_at') }} as minute_start,
        count(*) as dead_letters,
        sum(case when error_stage = 'parse' then 1 else 0 end) as parse_errors,
        sum(case when error_stage = 'schema' then 1 else 0 end) as schema_errors,
        sum(case when error_stage = 'business_rule' then 1 else 0 end) as business_rule_errors,
        sum(case when error_stage = 'sink' then 1 else 0 end) as sink_errors

    from dead_letters
    group by 1

),

final as (

    select
        coalesce(writes.minute_start, failures.minute_start) as minute_start,
        coalesce(writes.orders_written, 0) as orders_written,
        writes.avg_ingest_lag_seconds,
        writes.max_ingest_lag_seconds,
        coalesce(failures.dead_letters, 0) as dead_letters,
        coalesce(failures.parse_errors, 0) as parse_errors,
        coalesce(failures.schema_errors, 0) as schema_errors,
        coalesce(failures.business_rule_errors, 0) as business_rule_errors,
        coalesce(failures.sink_errors, 0) as sink_errors

    from writes
    full outer join failures on writes.minute_start = failures.minute_start

)

select * from final
