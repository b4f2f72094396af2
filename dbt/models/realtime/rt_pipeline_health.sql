-- Per minute of the last var rt_pipeline_health_minutes minutes: the events the pipeline handled, from the
-- counts its sinks write after each committed flush (pipeline_metrics): events received, valid snapshots and
-- their upsert outcomes, dead letters in total and by error stage (one <stage>_errors column per stage of var
-- dead_letter_error_stages), and commit latency percentiles estimated from the latency histogram.
-- BigQuery pruning: the filter is on pipeline_metrics' partition column (minute), through the staging view.
with

metrics as (

    select * from {{ ref('stg_orders_rt__pipeline_metrics') }}
    where minute_start >= {{ timestamp_ago(var('rt_pipeline_health_minutes'), 'minute') }}

),

-- a row BigQuery's best-effort insertId dedup let through twice counts once (copies share this key)
ranked as (

    select
        *,
        row_number() over (
            partition by writer, written_at, metric, kind
            order by minute_start
        ) as occurrence

    from metrics

),

deduplicated as (

    select
        minute_start,
        metric,
        kind,
        metric_value

    from ranked
    where occurrence = 1

),

counts as (

    select
        minute_start,
        -- valid + dead letters, less the sink's: sequence conflicts and refused snapshots were valid already
        sum(
            case
                when metric = 'valid' then metric_value
                when metric = 'dead_lettered' and not starts_with(kind, 'sink/') then metric_value
                else 0
            end
        ) as events_received,
        sum(case when metric = 'valid' then metric_value else 0 end) as valid_snapshots,
        sum(case when metric = 'applied' then metric_value else 0 end) as applied_snapshots,
        sum(case when metric = 'superseded' then metric_value else 0 end) as superseded_snapshots,
        sum(case when metric = 'stale' then metric_value else 0 end) as stale_snapshots,
        sum(case when metric = 'duplicate' then metric_value else 0 end) as duplicate_snapshots,
        sum(case when metric = 'dead_lettered' then metric_value else 0 end) as dead_letters,
        {% for stage in var('dead_letter_error_stages') %}
        sum(
            case
                when metric = 'dead_lettered' and starts_with(kind, '{{ stage }}/') then metric_value
                else 0
            end
        ) as {{ stage }}_errors,
        {% endfor %}
        sum(
            case when metric = 'commit_latency_ms' then metric_value else 0 end
        ) as commit_latency_messages,
        sum(
            case when metric = 'commit_latency_ms' and kind = '+Inf' then metric_value else 0 end
        ) as commit_latency_over_60s

    from deduplicated
    group by minute_start

),

latency_buckets as (

    select
        minute_start,
        -- the bucket's upper bound in ms; NULL for +Inf (over the last bound, 60000 ms)
        {{ dbt.safe_cast('kind', dbt.type_int()) }} as bucket_ms,
        sum(metric_value) as messages

    from deduplicated
    where metric = 'commit_latency_ms'
    group by minute_start, kind

),

latency_cumulative as (

    select
        minute_start,
        bucket_ms,
        sum(messages) over (
            partition by minute_start
            order by coalesce(bucket_ms, 2147483647)
            rows between unbounded preceding and current row
        ) as messages_so_far,
        sum(messages) over (partition by minute_start) as messages_in_minute

    from latency_buckets

),

-- A percentile is the upper bound of the first bucket whose cumulative count reaches it. The buckets that
-- reach it are a suffix of the ordered buckets, so the smallest finite bound among them is that bucket's,
-- and there is none (NULL) when it is the +Inf bucket.
latency_percentiles as (

    select
        minute_start,
        min(
            case when messages_so_far >= 0.50 * messages_in_minute then bucket_ms end
        ) as commit_latency_p50_ms,
        min(
            case when messages_so_far >= 0.95 * messages_in_minute then bucket_ms end
        ) as commit_latency_p95_ms,
        min(
            case when messages_so_far >= 0.99 * messages_in_minute then bucket_ms end
        ) as commit_latency_p99_ms

    from latency_cumulative
    group by minute_start

),

final as (

    select
        counts.minute_start,
        counts.events_received,
        counts.valid_snapshots,
        counts.applied_snapshots,
        counts.superseded_snapshots,
        counts.stale_snapshots,
        counts.duplicate_snapshots,
        counts.dead_letters,
        {% for stage in var('dead_letter_error_stages') %}
        counts.{{ stage }}_errors,
        {% endfor %}
        counts.commit_latency_messages,
        counts.commit_latency_over_60s,
        latency_percentiles.commit_latency_p50_ms,
        latency_percentiles.commit_latency_p95_ms,
        latency_percentiles.commit_latency_p99_ms

    from counts
    left join latency_percentiles on counts.minute_start = latency_percentiles.minute_start

)

select * from final
