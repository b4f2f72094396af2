-- One row per row the pipeline's sinks appended to pipeline_metrics (append-only counts, one row per sink
-- instance, flush, metric and kind: totals are sums). A plain rename, so that a filter on minute_start prunes
-- BigQuery's partitions on minute through this view. A copy of a row that BigQuery's best-effort insertId
-- dedup let through is kept here; readers drop it after their time filter (see rt_pipeline_health).
with

source as (

    select * from {{ source('orders_rt', 'pipeline_metrics') }}

),

renamed as (

    select
        {{ adapter.quote('minute') }} as minute_start,
        metric,
        kind,
        {{ adapter.quote('value') }} as metric_value,
        writer,
        written_at

    from source

)

select * from renamed
