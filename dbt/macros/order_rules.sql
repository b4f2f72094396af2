{#- Business rules that several models apply, each defined once here. The status lists are the vars
    order_statuses and order_exit_statuses (dbt_project.yml). -#}

{#- An order counts as a sale unless it left the happy path (canceled, unavailable). -#}
{% macro is_sale(status) -%}
    {{ status }} not in {{ sql_string_list(var('order_exit_statuses')) }}
{%- endmacro %}

{#- An order is open until it reaches a final status: the end of the happy path (delivered) or an exit. -#}
{% macro is_open(status) -%}
    {{ status }} not in {{ sql_string_list([happy_path_statuses() | last] + var('order_exit_statuses')) }}
{%- endmacro %}

{#- The statuses of the happy path, in lifecycle order (created … delivered). -#}
{% macro happy_path_statuses() -%}
    {{ return(var('order_statuses') | reject('in', var('order_exit_statuses')) | list) }}
{%- endmacro %}

{#- Revenue of item lines: price plus freight, BRL. Arguments may be NULL (an order without items, read
    through a left join): they count as 0. -#}
{% macro revenue(price, freight_value) -%}
    coalesce({{ price }}, 0) + coalesce({{ freight_value }}, 0)
{%- endmacro %}

{#- A list of strings as a SQL list of literals: ('a', 'b'). -#}
{% macro sql_string_list(values) -%}
    ({% for value in values %}'{{ value }}'{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}
