with

customers as (

    select * from {{ ref('dim_customers') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

months as (

    select distinct month_start
    from {{ ref('dim_date') }}
    where month_start >= (select min(customers.cohort_month) from customers)
        and month_start <= (select max({{ local_month('orders.purchased_at') }}) from orders)

),

new_customers as (

    select
        cohort_month as month_start,
        count(*) as new_customers
    from customers
    group by cohort_month

),

active_customers as (

    select
        {{ local_month('purchased_at') }} as month_start,
        count(distinct customer_unique_id) as active_customers
    from orders
    group by {{ local_month('purchased_at') }}

),

monthly as (

    select
        months.month_start,
        coalesce(new_customers.new_customers, 0) as new_customers,
        coalesce(active_customers.active_customers, 0) as active_customers,
        sum(coalesce(new_customers.new_customers, 0)) over (
            order by months.month_start rows between unbounded preceding and current row
        ) as cumulative_customers

    from months
    left join new_customers on months.month_start = new_customers.month_start
    left join active_customers on months.month_start = active_customers.month_start

),

final as (

    select
        month_start,
        new_customers,
        active_customers,
        cumulative_customers,
        new_customers * 1.0 / nullif(lag(cumulative_customers) over (order by month_start), 0)
            as customer_growth_rate

    from monthly

)

select * from final
