-- Items are summed per order BEFORE anything joins payments: joining items and payments first would
-- repeat every payment once per item (and every item once per payment) and inflate both totals.
with

order_items as (

    select * from {{ ref('stg_orders_rt__order_items') }}

),

summed as (

    select
        order_id,
        count(*) as item_count,
        count(distinct product_id) as distinct_product_count,
        count(distinct seller_id) as seller_count,
        sum(price) as items_value,
        sum(freight_value) as freight_value

    from order_items
    group by order_id

)

select * from summed
