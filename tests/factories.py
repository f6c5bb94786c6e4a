import factory
from django.contrib.auth import get_user_model

from annotation.models import Item, Label, Membership, Project


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests-1")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"project {n}")

    @factory.post_generation
    def labels(project, create, extracted, **kwargs):
        names = extracted if extracted is not None else ["pos", "neg"]
        for order, name in enumerate(names):
            shortcut = str(order + 1) if order < 9 else ""  # keys 1-9, as the API gives them
            Label.objects.create(project=project, name=name, shortcut=shortcut, order=order)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    project = factory.SubFactory(ProjectFactory)
    role = Membership.Role.ANNOTATOR


class ItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Item

    project = factory.SubFactory(ProjectFactory)
    data = factory.Sequence(lambda n: {"text": f"text number {n}"})
