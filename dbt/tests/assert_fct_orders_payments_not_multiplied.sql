-- Payments are counted once: each order's payment_total equals the sum of its raw payments (a payments x
-- items join would multiply it by the number of items), and the grand totals agree to the cent.
with

raw_payments as (

    select
        order_id,
        sum(payment_value) as raw_total
    from {{ source('orders_rt', 'order_payments') }}
    group by order_id

),

per_order as (

    select
        fct_orders.order_id,
        coalesce(raw_payments.raw_total, 0) as raw_total,
        fct_orders.payment_total

    from {{ ref('fct_orders') }} as fct_orders
    left join raw_payments on fct_orders.order_id = raw_payments.order_id

),

grand_totals as (

    select
        'all orders' as order_id,
        (select coalesce(sum(payment_value), 0) from {{ source('orders_rt', 'order_payments') }}) as raw_total,
        (select coalesce(sum(payment_total), 0) from {{ ref('fct_orders') }}) as payment_total

)

select * from per_order
where abs(raw_total - payment_total) >= 0.005
union all
select * from grand_totals
where abs(raw_total - payment_total) >= 0.005
