-- Where the orders of the last var rt_live_orders_days days are now. reached_count: orders at this stage
-- or beyond on the happy path (created -> ... -> delivered); canceled/unavailable are exits.
with

orders as (

    select * from {{ ref('stg_orders_rt__orders') }}
    where purchased_at >= {{ timestamp_ago(var('rt_live_orders_days'), 'day') }}

),

stages as (

    {% for status in var('order_statuses') %}
    select
        '{{ status }}' as order_status,
        {{ loop.index }} as stage_order,
        {{ 'true' if status in happy_path_statuses() else 'false' }} as is_happy_path
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

counts as (

    select
        order_status,
        count(*) as order_count
    from orders
    group by order_status

),

staged as (

    select
        stages.stage_order,
        stages.order_status,
        stages.is_happy_path,
        coalesce(counts.order_count, 0) as order_count

    from stages
    left join counts on stages.order_status = counts.order_status

),

running_totals as (

    select
        *,
        -- orders at this stage or beyond: a running total from the end of the happy path backwards
        sum(case when is_happy_path then order_count else 0 end) over (
            order by stage_order desc rows between unbounded preceding and current row
        ) as happy_path_running_total

    from staged

),

final as (

    select
        stage_order,
        order_status,
        is_happy_path,
        order_count,
        order_count * 1.0 / nullif(sum(order_count) over (), 0) as order_share,
        case when is_happy_path then happy_path_running_total end as reached_count

    from running_totals

)

select * from final
