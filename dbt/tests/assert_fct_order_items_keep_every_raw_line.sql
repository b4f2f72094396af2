-- Every raw item line is one fct_order_items row: two lines with the same product in one order stay two
-- rows (a distinct or a group by product would merge them). Returns (order, product) pairs whose line
-- counts or values differ.
with

raw_lines as (

    select
        order_id,
        product_id,
        count(*) as line_count,
        sum(price) as price_total
    from {{ source('orders_rt', 'order_items') }}
    group by order_id, product_id

),

fact_lines as (

    select
        order_id,
        product_id,
        count(*) as line_count,
        sum(price) as price_total
    from {{ ref('fct_order_items') }}
    group by order_id, product_id

)

select
    coalesce(raw_lines.order_id, fact_lines.order_id) as order_id,
    coalesce(raw_lines.product_id, fact_lines.product_id) as product_id,
    raw_lines.line_count as raw_line_count,
    fact_lines.line_count as fact_line_count

from raw_lines
full outer join fact_lines
    on raw_lines.order_id = fact_lines.order_id
        and raw_lines.product_id = fact_lines.product_id
where raw_lines.line_count is null
    or fact_lines.line_count is null
    or raw_lines.line_count <> fact_lines.line_count
    or abs(raw_lines.price_total - fact_lines.price_total) >= 0.005
