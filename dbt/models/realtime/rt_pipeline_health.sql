-- Per minute of the last var rt_pipeline_health_minutes minutes: order snapshots written (each order counts
-- at its latest write: the tables keep current state, not every event), ingest lag, and dead letters by
-- error stage (one <stage>_errors column per stage of var dead_letter_error_stages).
-- BigQuery pruning: orders filter on their partition column, bounded by var rt_max_order_age_days (an order
-- updated now was bought within it). Dead letters filter on theirs (timestamp) too, though the staging
-- view's dedupe reads the whole (small) dead-letter table: see stg_orders_rt__dead_letters.
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
        {% for stage in var('dead_letter_error_stages') %}
        sum(case when error_stage = '{{ stage }}' then 1 else 0 end) as {{ stage }}_errors
        {%- if not loop.last %},{% endif %}
        {% endfor %}

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
        {% for stage in var('dead_letter_error_stages') %}
        coalesce(failures.{{ stage }}_errors, 0) as {{ stage }}_errors
        {%- if not loop.last %},{% endif %}
        {% endfor %}

    from writes
    full outer join failures on writes.minute_start = failures.minute_start

)

select * from final
