with

customers as (

    select * from {{ ref('dim_customers') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

customer_months as (

    select distinct
        customer_unique_id,
        {{ local_month('purchased_at') }} as activity_month

    from orders

),

cohort_sizes as (

    select
        cohort_month,
        count(*) as cohort_size
    from customers
    group by cohort_month

),

activity as (

    select
        customers.cohort_month,
        {{ months_between('customers.cohort_month', 'customer_months.activity_month') }} as months_since_first_order,
        count(*) as active_customers

    from customer_months
    inner join customers on customer_months.customer_unique_id = customers.customer_unique_id
    group by
        customers.cohort_month,
        {{ months_between('customers.cohort_month', 'customer_months.activity_month') }}

),

final as (

    select
        activity.cohort_month,
        activity.months_since_first_order,
        cohort_sizes.cohort_size,
        activity.active_customers,
        activity.active_customers * 1.0 / cohort_sizes.cohort_size as retention_rate

    from activity
    inner join cohort_sizes on activity.cohort_month = cohort_sizes.cohort_month

)

select * from final
