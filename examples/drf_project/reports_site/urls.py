from django.urls import include, path

from reports_site import views

urlpatterns = [
    path("reports", views.Reports.as_view()),
    path("items", views.Items.as_view()),
    path("items/<int:item_id>", views.Item.as_view()),
    path("whoami", views.Whoami.as_view()),
    path("", include("resource_guard.django")),  # RFC 9728 metadata at /.well-known/...
]
