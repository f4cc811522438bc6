# Azure: azure-arm reads no ARM_* variable itself; these defaults take what
# the `azure` preset sets (`azure/creds/packer | azure`, with the inputs
# azure-tenant-id and azure-subscription-id).
variable "client_id" {
  type    = string
  default = env("ARM_CLIENT_ID")
}

variable "client_secret" {
  type      = string
  default   = env("ARM_CLIENT_SECRET")
  sensitive = true
}

variable "tenant_id" {
  type    = string
  default = env("ARM_TENANT_ID")
}

variable "subscription_id" {
  type    = string
  default = env("ARM_SUBSCRIPTION_ID")
}

source "azure-arm" "golden" {
  client_id                         = var.client_id
  client_secret                     = var.client_secret
  tenant_id                         = var.tenant_id
  subscription_id                   = var.subscription_id
  managed_image_name                = "golden-ubuntu-{{timestamp}}"
  managed_image_resource_group_name = "images"
  os_type                           = "Linux"
  image_publisher                   = "Canonical"
  image_offer                       = "ubuntu-24_04-lts"
  image_sku                         = "server"
  location                          = "westeurope"
  vm_size                           = "Standard_B2s"
}

build {
  sources = ["source.azure-arm.golden"]

  provisioner "shell" {
    inline = ["sudo apt-get update -qq", "sudo apt-get install -y -qq unattended-upgrades"]
  }
}
