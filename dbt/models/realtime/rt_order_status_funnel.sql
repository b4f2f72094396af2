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

final as (

    select
        stages.stage_order,
        stages.order_status,
        stages.is_happy_path,
        coalesce(counts.order_count, 0) as order_count,
        coalesce(counts.order_count, 0) * 1.0 / nullif(sum(coalesce(counts.order_count, 0)) over (), 0)
            as order_share,
        case
            when
                stages.is_happy_path
                then sum(case when stages.is_happy_path then coalesce(counts.order_count, 0) else 0 end)
                        over (order by stages.stage_order desc rows between unbounded preceding and current row)
        end as reached_count

    from stages
    left join counts on stages.order_status = counts.order_status

)

select * from final
