-- "Last N weeks" ends at the latest purchase in the warehouse (as_of_date): live data make it today, a
-- backfill of history still shows its last weeks instead of nothing.
with

sale_items as (

    select * from {{ ref('int_sale_items_joined_to_products_and_sellers') }}

),

as_of as (

    select max(purchase_date) as as_of_date from sale_items

),

windows as (

    {% for weeks in var('recent_window_weeks') %}
    select {{ weeks }} as window_weeks
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

windowed as (

    select
        windows.window_weeks,
        as_of.as_of_date,
        sale_items.product_id,
        sale_items.category_name,
        count(*) as units_sold,
        sum(sale_items.price) as revenue

    from sale_items
    cross join as_of
    cross join windows
    where {{ dbt.datediff('sale_items.purchase_date', 'as_of.as_of_date', 'day') }} < windows.window_weeks * 7
    group by windows.window_weeks, as_of.as_of_date, sale_items.product_id, sale_items.category_name

),

final as (

    select
        *,
        rank() over (partition by window_weeks order by revenue desc, units_sold desc) as revenue_rank

    from windowed

)

select * from final
