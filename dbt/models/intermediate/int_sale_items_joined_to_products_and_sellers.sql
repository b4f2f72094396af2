-- The item lines of sales with their product's category and their seller's location: the one input of the
-- product, category and seller sales KPIs. Left joins drop no line; the dimensions cover every product and
-- seller an order line names (relationships tests on fct_order_items).
with

order_items as (

    select * from {{ ref('fct_order_items') }}
    where is_sale

),

products as (

    select * from {{ ref('dim_products') }}

),

sellers as (

    select * from {{ ref('dim_sellers') }}

),

joined as (

    select
        order_items.order_item_key,
        order_items.order_id,
        order_items.order_item_id,
        order_items.product_id,
        products.category_name,
        order_items.seller_id,
        sellers.seller_city,
        sellers.seller_state,
        order_items.purchased_at,
        order_items.purchase_date,
        {{ local_month('order_items.purchased_at') }} as purchase_month,
        order_items.price,
        order_items.freight_value

    from order_items
    left join products
        on order_items.product_id = products.product_id
    left join sellers
        on order_items.seller_id = sellers.seller_id

)

select * from joined
