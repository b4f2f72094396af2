with

days as (

    {{ dbt.date_spine(
        'day',
        "cast('" ~ var('dim_date_start') ~ "' as date)",
        "cast('" ~ var('dim_date_end') ~ "' as date)"
    ) }}

),

final as (

    select
        cast(date_day as date) as date_day,
        extract(year from cast(date_day as date)) as year_number,
        extract(quarter from cast(date_day as date)) as quarter_number,
        extract(month from cast(date_day as date)) as month_number,
        {{ month_name('cast(date_day as date)') }} as month_name,
        extract(day from cast(date_day as date)) as day_of_month,
        {{ iso_day_of_week('cast(date_day as date)') }} as iso_day_of_week,
        {{ day_name('cast(date_day as date)') }} as day_name,
        {{ iso_day_of_week('cast(date_day as date)') }} >= 6 as is_weekend,
        {{ month_start('cast(date_day as date)') }} as month_start,
        {{ week_start('cast(date_day as date)') }} as week_start

    from days

)

select * from final
