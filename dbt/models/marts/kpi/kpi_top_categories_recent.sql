with

product_sales as (

    select * from {{ ref('kpi_top_products_recent') }}

),

windowed as (

    select
        window_weeks,
        as_of_date,
        category_name,
        sum(units_sold) as units_sold,
        sum(revenue) as revenue

    from product_sales
    group by window_weeks, as_of_date, category_name

),

final as (

    select
        *,
        rank() over (partition by window_weeks order by revenue desc, units_sold desc) as revenue_rank

    from windowed

)

select * from final
