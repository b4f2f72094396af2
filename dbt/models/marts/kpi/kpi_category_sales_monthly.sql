with

product_sales as (

    select * from {{ ref('kpi_product_sales_monthly') }}

),

monthly as (

    select
        month_start,
        category_name,
        sum(units_sold) as units_sold,
        sum(revenue) as revenue,
        count(*) as products_sold

    from product_sales
    group by month_start, category_name

),

final as (

    select
        *,
        rank() over (partition by month_start order by revenue desc, units_sold desc) as revenue_rank

    from monthly

)

select * from final
