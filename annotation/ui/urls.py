from django.contrib.auth import views as auth_views
from django.urls import path

from annotation.ui import views

urlpatterns = [
    path("", views.project_list, name="projects"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/token/", views.token_page, name="token"),
    path("projects/new/", views.project_new, name="project-new"),
    path("projects/<id:project_id>/", views.project_page, name="project"),
    path("projects/<id:project_id>/items/<id:item_id>/", views.item_page, name="item"),
    path("projects/<id:project_id>/import/", views.import_page, name="project-import"),
    path("projects/<id:project_id>/label/", views.label_page, name="label"),
    path("projects/<id:project_id>/review/", views.review_page, name="review"),
    path("projects/<id:project_id>/dashboard/", views.dashboard, name="dashboard"),
    path("projects/<id:project_id>/annotators/", views.annotators_page, name="annotators"),
    path("projects/<id:project_id>/settings/", views.project_settings, name="project-settings"),
    path("projects/<id:project_id>/audit/", views.audit_page, name="project-audit"),
]
